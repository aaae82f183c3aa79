/* sd_signal — the graceful-stop signals of a service process.  Every stage
 * stops cleanly on SIGINT/SIGTERM; they are blocked and read through a
 * signalfd so the main loop can poll them next to its sockets. */
#ifndef SD_SIGNAL_H
#define SD_SIGNAL_H

/* Blocks SIGINT and SIGTERM in the calling thread and returns a
 * non-blocking signalfd that becomes readable when one is delivered
 * (close it when done), or -1 if none could be made. */
int sd_signal_stop_fd(void);

/* 1 if a stop signal arrived on fd (it is consumed), else 0. */
int sd_signal_stop_requested(int fd);

#endif
