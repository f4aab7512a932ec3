/*-------------------------------------------------------------------------
 *
 * hello_capture.c
 *	  Test tool: a TCP listener on 127.0.0.1 that saves the first ClientHello
 *	  handshake message of each connection to a file, then hangs up.
 *
 *	  hello_capture PORT DIR NAME...
 *
 * Accepts one connection per NAME, in order, and writes DIR/NAME.bin: the
 * handshake message (type byte 0x01, uint24 length, body) reassembled from
 * the TLS records the client sent.  A PostgreSQL SSLRequest before it (what
 * libpq and `openssl s_client -starttls postgres` send) is answered 'S', a
 * GSSENCRequest 'N'; direct TLS (sslnegotiation=direct) needs nothing.
 * Prints "ready" on stdout once listening.  Gives up on a connection after
 * 10 seconds of silence.  No TLS library: the server side of the handshake
 * never starts, so what is saved is exactly what the client offered.
 *
 * test/client_hello/hello_capture.c
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
read_full(int fd, uint8_t *buf, size_t n)
{
	size_t		got = 0;

	while (got < n)
	{
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t		r;

		if (poll(&p, 1, 10000) <= 0)
			return -1;
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t) r;
	}
	return 0;
}

/* The ClientHello of one connection into msg; its length, or -1. */
static long
capture_one(int fd, uint8_t *msg, size_t cap)
{
	static const uint8_t sslrequest[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	static const uint8_t gssrequest[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};
	uint8_t		hdr[8];
	size_t		have = 0;

	for (;;)
	{
		/* 5 bytes of a record header, or the start of an 8-byte request */
		if (read_full(fd, hdr, 5) < 0)
			return -1;
		if (hdr[0] != 0x16)
		{
			if (read_full(fd, hdr + 5, 3) < 0)
				return -1;
			if (memcmp(hdr, sslrequest, 8) == 0)
			{
				if (write(fd, "S", 1) != 1)
					return -1;
				continue;
			}
			if (memcmp(hdr, gssrequest, 8) == 0)
			{
				if (write(fd, "N", 1) != 1)
					return -1;
				continue;
			}
			fprintf(stderr, "hello_capture: not a TLS handshake record\n");
			return -1;
		}
		else
		{
			size_t		rlen = ((size_t) hdr[3] << 8) | hdr[4];

			if (have + rlen > cap || read_full(fd, msg + have, rlen) < 0)
				return -1;
			have += rlen;
			if (have >= 4)
			{
				size_t		mlen = 4 + (((size_t) msg[1] << 16) |
										((size_t) msg[2] << 8) | msg[3]);

				if (have >= mlen)
					return (long) mlen;
			}
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in addr;
	int			ls,
				one = 1,
				i;
	static uint8_t msg[1 << 20];

	if (argc < 4)
	{
		fprintf(stderr, "usage: hello_capture PORT DIR NAME...\n");
		return 2;
	}
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
		listen(ls, 8) < 0)
	{
		perror("hello_capture: listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (i = 3; i < argc; i++)
	{
		char		path[4096];
		FILE	   *f;
		long		n;
		int			fd = accept(ls, NULL, NULL);

		if (fd < 0)
		{
			perror("hello_capture: accept");
			return 1;
		}
		n = capture_one(fd, msg, sizeof(msg));
		close(fd);
		if (n < 0)
		{
			fprintf(stderr, "hello_capture: %s: no ClientHello received\n", argv[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s.bin", argv[2], argv[i]);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(msg, 1, (size_t) n, f) != (size_t) n || fclose(f) != 0)
		{
			perror(path);
			return 1;
		}
	}
	close(ls);
	return 0;
}
