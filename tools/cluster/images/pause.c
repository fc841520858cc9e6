// The pod sandbox's init process: holds the pod's namespaces, reaps zombies (it is
// PID 1 when the pod shares its PID namespace) and exits 0 on SIGINT/SIGTERM.
// Built static with gcc by tools/cluster/lib/images.sh; same contract as upstream's
// build/pause/linux/pause.c.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) {
	(void)sig;
	_exit(0);
}

static void on_child(int sig) {
	(void)sig;
	int saved = errno;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
	errno = saved;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		puts("pause (kubevirt-cpp)");
		return 0;
	}
	if (getpid() != 1) {
		fprintf(stderr, "Warning: pause should be the first process\n");
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
		return 1;
	}
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	if (sigaction(SIGCHLD, &sa, NULL) < 0) {
		return 2;
	}
	for (;;) {
		pause();
	}
}
