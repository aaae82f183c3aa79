#include "sd_signal.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

int sd_signal_stop_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int sd_signal_stop_requested(int fd)
{
    struct signalfd_siginfo si;
    return fd >= 0 && read(fd, &si, sizeof si) == (ssize_t)sizeof si;
}
