/*
 * The pod sandbox ("pause") process of plinth's e2e images: it only holds the pod's
 * namespaces open. containerd starts it as PID 1 of the sandbox, so it gets no default
 * signal actions: it must handle SIGTERM/SIGINT itself or the runtime has to SIGKILL it
 * on every pod stop. With a shared PID namespace it is the init of the pod's processes,
 * so it also reaps orphans that exit.
 *
 * Built by scripts/build-images: gcc -Os -static (the image has nothing but this file).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PAUSE_VERSION
#define PAUSE_VERSION "unknown"
#endif

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	int saved = errno; /* waitpid may clobber errno of the interrupted code */

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		printf("pause %s (plinth e2e)\n", PAUSE_VERSION);
		return 0;
	}

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
		perror("pause: sigaction");
		return 1;
	}
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	if (sigaction(SIGCHLD, &sa, NULL) != 0) {
		perror("pause: sigaction");
		return 1;
	}

	for (;;)
		pause();
}
