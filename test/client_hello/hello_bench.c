/*
 * test/client_hello/hello_bench.c: the cost of what audit/offer.c does with
 * a kept ClientHello, outside the server: parse it (client_hello.c) and
 * compute its JA4, for each real ClientHello given on the command line,
 * many times.  Prints microseconds per ClientHello for each step; a
 * figure, never a verdict.  Built and run by test/client_hello/run.sh
 * --bench (and by test/bench).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/client_hello.h"

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[65536];
	int			iterations = 20000;
	double		parse_total = 0,
				ja4_total = 0;
	int			files = 0;

	for (int f = 1; f < argc; f++)
	{
		FILE	   *fp = fopen(argv[f], "rb");
		size_t		len;
		PgtlsClientHello ch;
		char		ja4[PGTLS_JA4_LEN + 1];
		double		t0,
					t1,
					t2;

		if (fp == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		if (!pgtls_parse_client_hello(buf, len, &ch))
			continue;			/* not a ClientHello (a truncated sample) */
		t0 = now_us();
		for (int i = 0; i < iterations; i++)
			pgtls_parse_client_hello(buf, len, &ch);
		t1 = now_us();
		for (int i = 0; i < iterations; i++)
			pgtls_ja4(&ch, ja4);
		t2 = now_us();
		parse_total += (t1 - t0) / iterations;
		ja4_total += (t2 - t1) / iterations;
		files++;
	}
	if (files == 0)
	{
		fprintf(stderr, "hello_bench: no ClientHello among the files given\n");
		return 1;
	}
	printf("ClientHello cost over %d real ClientHellos, %d times each:\n", files, iterations);
	printf("  parse %.2f us, JA4 %.2f us, total %.2f us per ClientHello\n",
		   parse_total / files, ja4_total / files, (parse_total + ja4_total) / files);
	return 0;
}
