/* The benchmark's trivial job: appends "<realtime seconds>\t<argument>" to a log the
 * moment it starts, in one O_APPEND write (so concurrent jobs never interleave). */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (argc < 3) return 2;
    char line[8192];
    int n = snprintf(line, sizeof line, "%lld.%09ld\t%s\n", (long long)ts.tv_sec, ts.tv_nsec, argv[2]);
    if (n < 0 || n >= (int)sizeof line) return 3;
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return 4;
    ssize_t written = write(fd, line, (size_t)n);
    close(fd);
    return written == n ? 0 : 5;
}
