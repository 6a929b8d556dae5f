#!/usr/bin/env bash
# 'siamese report' in a real browser: a short AT&T faces run's page rendered by Debian's chromium
# (headless): every picture loads, the numbers in the page equal metrics.jsonl's, the page asks
# for nothing over the network; a run in progress and hostile strings in config.json; usage errors.
# ctest-label: slow
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "SKIP: chromium is not installed (scripts/deps.sh --browser installs Debian's chromium)"
    exit 77
fi

# chromium headless with nothing of its own on the network; extra arguments follow
run_browser() {
    local profile
    profile=$(mktemp -d "$tmp/profile.XXXXXX")
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --user-data-dir="$profile" --host-resolver-rules="MAP * ~NOTFOUND" \
        --virtual-time-budget=10000 "$@" 2>>"$tmp/browser.log"
}

# usage and run-folder errors leave no page behind
expect 2 "$cli" report
expect 2 "$cli" report a b
expect 2 "$cli" report "$tmp" --bogus
grep_err "--bogus"
expect 0 "$cli" report --help
grep -q "^  report " <("$cli" --help) || fail "'report' missing from siamese --help"
expect 1 "$cli" report "$tmp/nowhere"
grep_err "$tmp/nowhere"
mkdir -p "$tmp/empty"
expect 1 "$cli" report "$tmp/empty"
grep_err "not a training run folder"
[ -e "$tmp/empty/report.html" ] && fail "a page was written for a folder without a run"

# a short run, then its report
arch="conv(8,k=5,s=2) relu maxpool(2) conv(16,k=3) relu linear(16)"
expect 0 "$cli" train "$faces" -o "$tmp/run" --arch "$arch" --input 1x56x46 --batch 8 \
    --threads 2 --seed 3 --epochs 2 --split images -q
expect 0 "$cli" report "$tmp/run" -j 2
page="$tmp/run/report.html"
[ -s "$page" ] || fail "no report.html in the run folder"
grep -qx "$page" "$tmp/out" || fail "stdout does not name the page: $(cat "$tmp/out")"
size=$(stat -c %s "$page")
echo "report of a 2-epoch AT&T faces run: $size bytes"
[ "$size" -lt 1500000 ] || fail "the page is $size bytes (thumbnails should keep it small)"

# self-contained: no reference to anything but the page itself and data: URIs
grep -Eio '(https?|wss?|ftp)://[^"<> ]*' "$page" | head -3 >"$tmp/urls"
[ -s "$tmp/urls" ] && fail "the page names network addresses: $(cat "$tmp/urls")"
grep -Eo '(src|href)="[^"#][^"]{0,20}' "$page" | grep -v '="data:' | head -3 >"$tmp/refs"
[ -s "$tmp/refs" ] && fail "the page refers to other files: $(cat "$tmp/refs")"
grep -Eiq '<link|@import|url\(' "$page" && fail "the page loads a stylesheet or a url()"

# rendered by chromium: every picture decoded, the numbers are metrics.jsonl's
run_browser --dump-dom "file://$page" >"$tmp/dom.html"
images=$(sed -n 's/.*<body data-images="\([0-9]*\)".*/\1/p' "$tmp/dom.html")
loaded=$(sed -n 's/.*data-images-loaded="\([0-9]*\)".*/\1/p' "$tmp/dom.html")
echo "pictures in the page: ${images:-?}, loaded: ${loaded:-?}"
[ -n "$images" ] && [ "$images" -gt 0 ] || fail "no pictures counted in the rendered page"
[ "${images:-x}" = "${loaded:-y}" ] || fail "$loaded of $images pictures loaded"
grep -q 'id="false-accepts"' "$tmp/dom.html" || fail "no false accepts gallery"
grep -q 'id="neighbours"' "$tmp/dom.html" || fail "no nearest neighbours"
grep -q '<svg' "$tmp/dom.html" || fail "no chart"

field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }
checked=0
while IFS= read -r line; do
    epoch=$(field epoch "$line")
    for key in test_auc test_loss train_loss threshold; do
        want=$(LC_ALL=C printf '%.4f' "$(field "$key" "$line")")
        row=$(grep -o "<tr id=\"epoch-$epoch\">.*" "$tmp/dom.html" | sed 's|</tr>.*||')
        grep -q "data-k=\"$key\">$want<" <<<"$row" ||
            fail "epoch $epoch: $key is not $want in the page: $row"
        checked=$((checked + 1))
    done
done < <(grep '^{"event":"epoch"' "$tmp/run/metrics.jsonl")
[ "$checked" -eq 8 ] || fail "checked $checked epoch numbers, want 8 (2 epochs x 4)"
last=$(grep '^{"event":"epoch"' "$tmp/run/metrics.jsonl" | tail -1)
want=$(LC_ALL=C printf '%.4f' "$(field test_auc "$last")")
grep -q "id=\"run-test-auc\">$want<" "$tmp/dom.html" || fail "final test ROC AUC is not $want"
want=$(LC_ALL=C awk -v a="$(field test_accuracy "$last")" 'BEGIN { printf "%.2f", a * 100 }')
grep -q "id=\"run-test-accuracy\">$want" "$tmp/dom.html" || fail "final test accuracy is not $want %"

# the browser's own record of its requests: none started by a page. chromium's own background
# requests (updates, accounts) carry the initiator "not an origin"; a page's carry its origin
# ("null" for a file), as the control page with two network pictures shows.
page_requests() {
    run_browser --log-net-log="$tmp/net.json" --dump-dom "file://$1" >/dev/null
    [ -s "$tmp/net.json" ] || fail "chromium wrote no net log for $1"
    grep '"initiator":' "$tmp/net.json" | grep -vc '"initiator":"not an origin"'
}
printf '<html><body><img src="http://example.com/a.png"><img src="https://example.org/b.png">' \
    >"$tmp/control.html"
[ "$(page_requests "$tmp/control.html")" -gt 0 ] ||
    fail "the net-log check does not see a page's requests (control page)"
n=$(page_requests "$page")
[ "$n" -eq 0 ] || fail "the report made $n network requests"

# on a phone 390 px wide: headless chromium's window is at least 500 px wide, so the page is
# laid out in a 390 px frame of a wrapper page; a script added to a copy of the page measures every
# chart text as drawn (font size times the chart's scale on screen) and whether it lies inside its
# chart, and the smallest font of the page's own text (outside the charts), and posts the figures to the wrapper, whose DOM is dumped
phone_check() { # PAGE NAME: fails when chart text is under 11 px, page text under 12 px, or cut off at 390 px
    local copy="$tmp/phone-$2.html" wrap="$tmp/phone-$2-wrap.html" measure
    measure="<script>window.addEventListener('load',function(){var t=document.querySelectorAll('svg text'),min=1e9,out=[];for(var i=0;i<t.length;i++){var e=t[i],m=e.getScreenCTM(),s=Math.sqrt(m.a*m.a+m.b*m.b),f=parseFloat(getComputedStyle(e).fontSize)*s;if(f<min)min=f;var o=e.ownerSVGElement;while(o.ownerSVGElement)o=o.ownerSVGElement;var r=e.getBoundingClientRect(),b=o.getBoundingClientRect();if(r.left<b.left-1||r.right>b.right+1||r.top<b.top-1||r.bottom>b.bottom+1)out.push(e.textContent);}var q=document.body.querySelectorAll('*'),pmin=1e9;for(var j=0;j<q.length;j++){var x=q[j];if(x.closest('svg')||x.tagName=='SCRIPT'||x.tagName=='STYLE')continue;for(var c=x.firstChild;c;c=c.nextSibling)if(c.nodeType==3?c.nodeValue.trim():''){var pf=parseFloat(getComputedStyle(x).fontSize);if(pf<pmin)pmin=pf;break;}}parent.postMessage('texts='+t.length+' min-font='+(t.length?min.toFixed(2):0)+' min-page-font='+pmin.toFixed(2)+' outside='+out.length+' page-width='+document.documentElement.scrollWidth+' viewport='+window.innerWidth+' ['+out.join('|')+']','*');});</script>"
    awk -v m="$measure" '{ sub(/<\/body>/, m "</body>") } 1' "$1" >"$copy"
    printf '%s' "<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"$(basename "$copy")\"" \
        " width=\"390\" height=\"2400\" style=\"border:0\"></iframe><pre id=\"r\">none</pre>" \
        "<script>window.addEventListener('message',function(e){document.getElementById('r')" \
        ".textContent=String(e.data);});</script></body></html>" >"$wrap"
    run_browser --hide-scrollbars --window-size=500,2400 --dump-dom "file://$wrap" >"$tmp/phone-$2.dom"
    local got
    got=$(sed -n 's|.*<pre id="r">\([^<]*\)</pre>.*|\1|p' "$tmp/phone-$2.dom")
    echo "$2 at 390 px: $got"
    local texts font pfont outside width
    texts=$(sed -n 's/.*texts=\([0-9]*\).*/\1/p' <<<"$got")
    font=$(sed -n 's/.*min-font=\([0-9.]*\).*/\1/p' <<<"$got")
    outside=$(sed -n 's/.*outside=\([0-9]*\).*/\1/p' <<<"$got")
    width=$(sed -n 's/.*page-width=\([0-9]*\) viewport=390.*/\1/p' <<<"$got")
    [ -n "$texts" ] && [ "$texts" -gt 0 ] || fail "$2: no chart text measured at 390 px ($got)"
    awk -v f="${font:-0}" 'BEGIN { exit !(f >= 11) }' || fail "$2: chart text of ${font:-?} px at 390 px wide (want >= 11)"
    pfont=$(sed -n 's/.*min-page-font=\([0-9.]*\).*/\1/p' <<<"$got")
    awk -v f="${pfont:-0}" 'BEGIN { exit !(f >= 12) }' || fail "$2: page text of ${pfont:-?} px at 390 px wide (want >= 12)"
    [ "${outside:-1}" -eq 0 ] || fail "$2: chart text cut off at 390 px: $got"
    [ -n "$width" ] && [ "$width" -le 390 ] || fail "$2: the page is wider than a 390 px phone: $got"
}
phone_check "$page" "run report"

# on a phone-sized and a wide screen (look at them: SIAMESE_KEEP_SCREENSHOTS=DIR keeps them)
for size in 390,2400 1400,3000; do
    run_browser --hide-scrollbars --window-size="$size" --screenshot="$tmp/shot-$size.png" \
        "file://$page" >/dev/null
    [ -s "$tmp/shot-$size.png" ] || fail "no screenshot at $size"
done
if [ -n "${SIAMESE_KEEP_SCREENSHOTS:-}" ]; then cp "$tmp"/shot-*.png "$page" "$SIAMESE_KEEP_SCREENSHOTS"/; fi

# a run in progress: settings, split and the first logged steps, no model yet
mkdir -p "$tmp/running"
cp "$tmp/run/config.json" "$tmp/run/split.json" "$tmp/running/"
grep '^{"event":"log"' "$tmp/run/metrics.jsonl" | head -2 >"$tmp/running/metrics.jsonl"
expect 0 "$cli" report "$tmp/running" -o "$tmp/running.html"
grep -q "no epoch finished yet" "$tmp/running.html" || fail "a run in progress is not said so"
grep -q "No model file in the run folder yet" "$tmp/running.html" || fail "no word on the model"
grep -q 'id="data-test-pairs"' "$tmp/running.html" || fail "no data summary of a run in progress"
run_browser --dump-dom "file://$tmp/running.html" >"$tmp/dom2.html"
grep -q 'data-images="0" data-images-loaded="0"' "$tmp/dom2.html" ||
    fail "the page of a run in progress did not render (or holds pictures)"

# a data path relative to where training ran ("siamese train faces -o runs/x") is found from
# the folders above the run folder, wherever the report runs
mkdir -p "$tmp/project/runs"
ln -s "$(cd "$faces" && pwd)" "$tmp/project/faces"
cp -r "$tmp/run" "$tmp/project/runs/x"
sed -i 's|"data": *"[^"]*"|"data": "faces"|' "$tmp/project/runs/x/config.json"
(cd / && "$cli" report "$tmp/project/runs/x" -o "$tmp/relative.html" >/dev/null 2>"$tmp/err") ||
    fail "report of a run with a relative data path: $(cat "$tmp/err")"
grep -q "found as $tmp/project/faces" "$tmp/relative.html" || fail "relative data path not found"
grep -q 'id="false-accepts"' "$tmp/relative.html" || fail "no galleries with a relative data path"

# hostile strings from config.json are text, never markup
mkdir -p "$tmp/hostile"
sed 's|"data": *"[^"]*"|"data": "<img src=x onerror=alert(1)>/nowhere"|' "$tmp/run/config.json" \
    >"$tmp/hostile/config.json"
expect 0 "$cli" report "$tmp/hostile"
grep -q "<img src=x" "$tmp/hostile/report.html" && fail "a string from config.json became markup"
grep -q "&lt;img src=x onerror=alert(1)&gt;" "$tmp/hostile/report.html" ||
    fail "the data path is not shown escaped"

# siamese eval --report: the evaluation's page holds the numbers eval prints
testing=${faces%/training}/testing
expect 0 "$cli" eval "$tmp/run/best.safetensors" "$testing" --protocol all --way 3 --bootstrap 50 \
    --json -q --report "$tmp/eval.html"
want=$(LC_ALL=C printf '%.4f' "$(sed -n 's/.*"auc":{"value":\([^,]*\),.*/\1/p' "$tmp/out")")
run_browser --dump-dom "file://$tmp/eval.html" >"$tmp/dom3.html"
grep -q "id=\"eval-auc\">$want<" "$tmp/dom3.html" || fail "the eval page's ROC AUC is not $want"
grep -q 'id="eval-fewshot-accuracy"' "$tmp/dom3.html" || fail "no few-shot numbers in the eval page"
grep -q 'id="eval-map-r"' "$tmp/dom3.html" || fail "no retrieval numbers in the eval page"
grep -q '95% interval' "$tmp/dom3.html" || fail "no intervals in the eval page"
# its galleries: the hardest mistakes at the threshold and retrieval queries with neighbours,
# every thumbnail loaded, the caps said on the page
for id in mistakes false-accepts false-rejects retrieval-neighbours; do
    grep -q "id=\"$id\"" "$tmp/dom3.html" || fail "no $id gallery in the eval page"
done
images=$(sed -n 's/.*<body data-images="\([0-9]*\)".*/\1/p' "$tmp/dom3.html")
loaded=$(sed -n 's/.*data-images-loaded="\([0-9]*\)".*/\1/p' "$tmp/dom3.html")
echo "eval page: $(stat -c %s "$tmp/eval.html") bytes, ${images:-?} pictures, ${loaded:-?} loaded"
[ -n "$images" ] && [ "$images" -ge 12 ] || fail "the eval page holds ${images:-no} pictures (want >= 12)"
[ "${images:-x}" = "${loaded:-y}" ] || fail "eval page: $loaded of $images pictures loaded"
rows=$(grep -o '<figure class="q">' "$tmp/dom3.html" | wc -l)
[ "$rows" -ge 1 ] && [ "$rows" -le 6 ] || fail "eval page: $rows query rows (want 1 to 6)"
grep -q "At most 8 pairs of each kind are shown" "$tmp/dom3.html" || fail "the gallery cap is not said"
fa=$(sed -n 's/.*Hardest false accepts[^:]*: \([0-9]*\) of.*/\1/p' "$tmp/dom3.html")
shown=$(sed 's/id="false-rejects".*//' "$tmp/dom3.html" | sed 's/.*id="false-accepts"//' |
    grep -o 'class="pair"' | wc -l)
[ -n "$fa" ] && [ "$shown" -eq "$((fa < 8 ? fa : 8))" ] ||
    fail "eval page: $shown false accepts shown of ${fa:-?} (want min(count, 8))"
phone_check "$tmp/eval.html" "eval report"
# retrieval on the 37 training classes, where the short run errs: the queries whose nearest item
# is of another class come first, and every wrong neighbour is marked
expect 0 "$cli" eval "$tmp/run/best.safetensors" "$faces" --protocol retrieval --bootstrap 0 \
    --json -q --report "$tmp/eval_train.html"
recall1=$(sed -n 's/.*"recall_at_1":{"value":\([^,]*\),.*/\1/p' "$tmp/out")
wrong=$(grep -o 'class="wrong"' "$tmp/eval_train.html" | wc -l)
other=$(grep -o 'other class,' "$tmp/eval_train.html" | wc -l)
first=$(sed -n 's/.*queries), first the \([0-9]*\) whose nearest.*/\1/p' "$tmp/eval_train.html")
echo "retrieval on the training classes: Recall@1 $recall1, $wrong wrong neighbours shown"
[ "$wrong" -eq "$other" ] || fail "$wrong neighbours outlined as wrong, $other captioned 'other class'"
if awk -v r="${recall1:-1}" 'BEGIN { exit !(r < 0.9) }'; then
    [ "${first:-0}" -ge 1 ] || fail "Recall@1 $recall1 but no query with a wrong nearest item comes first"
fi
expect 2 "$cli" eval "$tmp/run/best.safetensors" "$testing" -q --report "$tmp/no/such/e.html"
grep_err "$tmp/no/such/e.html"

# a page that cannot be written (its folder missing: refused before any work) leaves the old one intact
cp "$page" "$tmp/before.html"
expect 2 "$cli" report "$tmp/run" -o "$tmp/no/such/folder/r.html"
cmp -s "$page" "$tmp/before.html" || fail "a failed report changed the existing page"

finish test_report_browser
