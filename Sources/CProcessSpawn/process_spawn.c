#define _GNU_SOURCE
#include "process_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct request {
    const char *path;
    char *const *argv;
    char *const *envp;
    int death_signal;
    pid_t pid;
    int error;
    bool done;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static struct request *pending;
static pthread_once_t started = PTHREAD_ONCE_INIT;
static int start_error;

/* Only async-signal-safe calls between fork and execve: the parent has other threads. */
static void run_child(const struct request *request, int report, pid_t parent) {
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, request->death_signal) != 0 || getppid() != parent) {
        _exit(127); /* the parent is already gone: do not start orphaned */
    }
    struct sigaction fallback = {.sa_handler = SIG_DFL};
    for (int number = 1; number < NSIG; number++) sigaction(number, &fallback, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0 && null != STDIN_FILENO) {
        dup2(null, STDIN_FILENO);
        close(null);
    }
    /* `report` is close-on-exec: keep it open until execve succeeds or fails. */
    if (report > 3) close_range(3, (unsigned)report - 1, 0);
    close_range((unsigned)report + 1, ~0U, 0);
    execve(request->path, request->argv, request->envp);
    int error = errno;
    (void)!write(report, &error, sizeof error);
    _exit(127);
}

static void spawn(struct request *request) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        request->error = errno;
        return;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) run_child(request, report[1], parent);
    close(report[1]);
    if (pid < 0) {
        request->error = errno;
        close(report[0]);
        return;
    }
    int error = 0;
    ssize_t count;
    do {
        count = read(report[0], &error, sizeof error);
    } while (count < 0 && errno == EINTR);
    close(report[0]);
    if (count == (ssize_t)sizeof error) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        request->error = error;
        return;
    }
    request->pid = pid;
}

static void *spawner(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!pending) pthread_cond_wait(&changed, &lock);
        struct request *request = pending;
        spawn(request);
        request->done = true;
        pending = NULL;
        pthread_cond_broadcast(&changed);
    }
    return NULL;
}

static void start_spawner(void) {
    pthread_t thread;
    start_error = pthread_create(&thread, NULL, spawner, NULL);
    if (start_error == 0) pthread_detach(thread);
}

int process_spawn(const char *path, char *const argv[], char *const envp[], int death_signal, pid_t *pid) {
    pthread_once(&started, start_spawner);
    if (start_error != 0) return start_error;
    struct request request = {.path = path, .argv = argv, .envp = envp, .death_signal = death_signal};
    pthread_mutex_lock(&lock);
    while (pending) pthread_cond_wait(&changed, &lock);
    pending = &request;
    pthread_cond_broadcast(&changed);
    while (!request.done) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    if (request.error == 0) *pid = request.pid;
    return request.error;
}
