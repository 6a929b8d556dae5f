/* The public side of data-parallel runs (issue 16): starting and ending MPI in a program that
 * mpirun launched, and the rank and size a program (the CLI) asks about. */
#include <stdlib.h>

#include "siamese.h"

#ifdef SIAMESE_WITH_MPI
#include <mpi.h>

/* mpirun (OpenMPI, MPICH/Hydra, PMIx launchers, Slurm's srun) leaves one of these behind. */
static int started_by_launcher(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static int mpi_live(void) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

int siamese_dist_available(void) { return 1; }

int siamese_dist_init(int *argc, char ***argv) {
    if (!mpi_live() && started_by_launcher()) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized && MPI_Init(argc, argv) != MPI_SUCCESS) return -1;
    }
    return siamese_dist_size();
}

void siamese_dist_finalize(void) {
    if (mpi_live()) MPI_Finalize();
}

int siamese_dist_rank(void) {
    int rank = 0;
    if (mpi_live()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

int siamese_dist_size(void) {
    int size = 1;
    if (mpi_live()) MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

int siamese_dist_all_ok(int ok) {
    int all = ok != 0;
    if (mpi_live()) MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
}

#else /* built without MPI: always one process */

int siamese_dist_all_ok(int ok) { return ok != 0; }

int siamese_dist_available(void) { return 0; }
int siamese_dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return 1;
}
void siamese_dist_finalize(void) {}
int siamese_dist_rank(void) { return 0; }
int siamese_dist_size(void) { return 1; }

#endif
