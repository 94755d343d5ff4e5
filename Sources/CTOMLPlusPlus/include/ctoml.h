#pragma once
/* Placeholder: the plain C API over toml++ comes with the cluster.toml work. */
#ifdef __cplusplus
extern "C" {
#endif
int ctoml_placeholder(void);
#ifdef __cplusplus
}
#endif
