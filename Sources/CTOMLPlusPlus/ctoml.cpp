#include "ctoml.h"
extern "C" int ctoml_placeholder(void) { return 0; }
