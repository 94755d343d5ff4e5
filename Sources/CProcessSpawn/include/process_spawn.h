#pragma once
/*
 * Starting a child that cannot outlive its parent (Linux): fork, then in the child
 * setpgid(0, 0) (its own process group, so a terminal's Ctrl-C reaches only the parent),
 * prctl(PR_SET_PDEATHSIG, death_signal), default signal dispositions and an empty signal mask,
 * stdin from /dev/null, every other inherited descriptor above stderr closed, then execve.
 *
 * PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process: every fork
 * happens on one spawner thread that lives as long as the process, so a child is signalled
 * exactly when the parent process dies (even by SIGKILL).
 */
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Starts `path` (an absolute or relative file path: no PATH search) with `argv` and `envp`
 * (NULL-terminated). On success stores the child's pid (also its process group id) and returns
 * 0; otherwise returns the errno of the failed fork or execve (the child is then already reaped).
 */
int process_spawn(const char *path, char *const argv[], char *const envp[], int death_signal, pid_t *pid);

#ifdef __cplusplus
}
#endif
