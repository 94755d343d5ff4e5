#pragma once
#include <cblas.h>

/* OpenBLAS's runtime kernel selection (exported by DYNAMIC_ARCH builds, which Debian ships):
   `gotoblas_dynamic_quit` forgets the selected core, `gotoblas_dynamic_init` selects one again,
   honouring the OPENBLAS_CORETYPE environment variable. Used by CPUBackend's BLASKernels. */
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);
