"""The reference recipe's SiameseNetwork and ContrastiveLoss (the PyTorch tutorial), with widths
as parameters so a reduced copy of the same structure fits small fixtures. Defaults are exact."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SiameseNetwork(nn.Module):
    """cnn1 Conv2d(3,256,11,s=4) relu maxpool(3,s=2) cnn2 Conv2d(256,256,5) relu maxpool(2,s=2)
    cnn3 Conv2d(256,384,3) relu flatten fc1 fc2 fc3 (no activations between the linears)."""

    def __init__(self, c1=256, c2=256, c3=384, flat=46464, f1=1024, f2=256, out=1, in_ch=3):
        super().__init__()
        self.cnn1 = nn.Conv2d(in_ch, c1, kernel_size=11, stride=4)
        self.relu = nn.ReLU()
        self.maxpool1 = nn.MaxPool2d(3, stride=2)
        self.cnn2 = nn.Conv2d(c1, c2, kernel_size=5, stride=1)
        self.maxpool2 = nn.MaxPool2d(2, stride=2)
        self.cnn3 = nn.Conv2d(c2, c3, kernel_size=3, stride=1)
        self.fc1 = nn.Linear(flat, f1)
        self.fc2 = nn.Linear(f1, f2)
        self.fc3 = nn.Linear(f2, out)

    def forward_once(self, x):
        output = self.cnn1(x)
        output = self.relu(output)
        output = self.maxpool1(output)
        output = self.cnn2(output)
        output = self.relu(output)
        output = self.maxpool2(output)
        output = self.cnn3(output)
        output = self.relu(output)
        output = output.view(output.size()[0], -1)
        output = self.fc1(output)
        output = self.fc2(output)
        output = self.fc3(output)
        return output

    def forward(self, input1, input2):
        return self.forward_once(input1), self.forward_once(input2)


class ContrastiveLoss(torch.nn.Module):
    """Exactly the tutorial's loss: Euclidean pairwise_distance (keepdim), margin 2.0."""

    def __init__(self, margin=2.0):
        super().__init__()
        self.margin = margin

    def forward(self, output1, output2, label):
        euclidean_distance = F.pairwise_distance(output1, output2, keepdim=True)
        loss_contrastive = torch.mean((1 - label) * torch.pow(euclidean_distance, 2) +
                                      (label) * torch.pow(torch.clamp(self.margin - euclidean_distance, min=0.0), 2))
        return loss_contrastive


def distance(metric, a, b):
    """Our metrics as PyTorch expressions, [n, 1]: euclidean as the tutorial, cosine = 1 - cos,
    correlation = 1 - Pearson r (cosine of the mean-centred vectors)."""
    if metric == "euclidean":
        return F.pairwise_distance(a, b, keepdim=True)
    if metric == "cosine":
        return 1 - F.cosine_similarity(a, b, dim=1).unsqueeze(1)
    if metric == "correlation":
        ac = a - a.mean(dim=1, keepdim=True)
        bc = b - b.mean(dim=1, keepdim=True)
        return 1 - F.cosine_similarity(ac, bc, dim=1).unsqueeze(1)
    raise ValueError(metric)


def contrastive_loss(metric, a, b, label, margin=2.0):
    d = distance(metric, a, b)
    return torch.mean((1 - label) * torch.pow(d, 2) +
                      label * torch.pow(torch.clamp(margin - d, min=0.0), 2))


def seed_arch_text():
    return ("conv(256,k=11,s=4) relu maxpool(3,s=2) conv(256,k=5) relu maxpool(2,s=2) "
            "conv(384,k=3) relu flatten linear(1024) linear(256) linear(1)")
