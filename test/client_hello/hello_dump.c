/*-------------------------------------------------------------------------
 *
 * hello_dump.c
 *	  Test tool around src/audit/client_hello.c, compiled outside the server.
 *
 *	  hello_dump FILE...             the parsed fields and JA4 of each file
 *	  hello_dump --ja4 FILE...       "NAME JA4" per file (NAME: base name
 *	                                 without .bin), "NAME invalid" if it
 *	                                 does not parse
 *	  hello_dump --pcap OUT FILE...  a pcap file holding each ClientHello in
 *	                                 one TLS record of one TCP segment to
 *	                                 port 443 (frame N = file N), for an
 *	                                 independent dissector (tshark)
 *
 * Each FILE holds one handshake message (type 0x01, uint24 length, body), as
 * test/client_hello/hello_capture.c saves it.  Strings are printed with
 * bytes outside printable ASCII as \xHH.
 *
 * test/client_hello/hello_dump.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/client_hello.h"

static uint8_t buf[1 << 20];

static size_t
read_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	size_t		n;

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return n;
}

static void
base_name(const char *path, char *out, size_t cap)
{
	const char *b = strrchr(path, '/');
	size_t		n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 4 && strcmp(b + n - 4, ".bin") == 0)
		n -= 4;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

static void
print_list(const char *label, const uint16_t *v, int n, int names)
{
	char		tmp[8];
	int			i;

	printf("%s (%d):", label, n);
	for (i = 0; i < n; i++)
	{
		if (names)
			printf(" %s", pgtls_tls_version_name(v[i], tmp));
		else
			printf(" %04x", v[i]);
		if (pgtls_tls_grease(v[i]))
			printf("(grease)");
	}
	printf("\n");
}

static void
print_bytes(const char *s, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

static void
dump(const char *path)
{
	PgtlsClientHello ch;
	char		ja4[PGTLS_JA4_LEN + 1];
	char		name[256];
	char		tmp[8];
	size_t		n = read_file(path);
	int			i;

	base_name(path, name, sizeof(name));
	printf("== %s (%zu bytes)\n", name, n);
	if (!pgtls_parse_client_hello(buf, n, &ch))
	{
		printf("invalid\n");
		return;
	}
	printf("legacy_version: %s\n", pgtls_tls_version_name(ch.legacy_version, tmp));
	print_list("versions", ch.versions, ch.nversions, 1);
	print_list("ciphers", ch.ciphers, ch.nciphers, 0);
	print_list("extensions", ch.extensions, ch.nextensions, 0);
	print_list("groups", ch.groups, ch.ngroups, 0);
	print_list("keyshares", ch.keyshares, ch.nkeyshares, 0);
	print_list("sigalgs", ch.sigalgs, ch.nsigalgs, 0);
	printf("alpn (%d):", ch.nalpn);
	for (i = 0; i < ch.nalpn; i++)
	{
		printf(" \"");
		print_bytes(ch.alpn[i], ch.alpn_len[i]);
		printf("\"");
	}
	printf("\nsni: %s \"", ch.has_sni ? "yes" : "no");
	print_bytes(ch.sni, ch.sni_len);
	printf("\" (extension %s)\n", ch.sni_extension ? "present" : "absent");
	printf("truncated: %s, dropped %d\n", ch.truncated ? "yes" : "no", ch.dropped);
	pgtls_ja4(&ch, ja4);
	printf("ja4: %s\n", ja4);
}

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

static void
put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

/* One Ethernet/IPv4/TCP frame per file; records of at most 16384 bytes. */
static void
write_pcap(const char *out, char **files, int nfiles)
{
	static uint8_t frame[70000];
	uint8_t		gh[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0};
	FILE	   *f = fopen(out, "wb");
	int			i;

	if (f == NULL)
	{
		perror(out);
		exit(1);
	}
	put32le(gh + 16, 262144);	/* snaplen */
	put32le(gh + 20, 1);		/* Ethernet */
	fwrite(gh, 1, 24, f);
	for (i = 0; i < nfiles; i++)
	{
		size_t		n = read_file(files[i]);
		size_t		off = 0,
					pos = 54,
					iplen;
		uint8_t		rh[16];
		uint32_t	sum = 0;
		int			k;

		if (n > 60000)
		{
			fprintf(stderr, "%s: too large for one frame\n", files[i]);
			exit(1);
		}
		memset(frame, 0, 54);
		frame[12] = 0x08;		/* IPv4 */
		while (off < n)
		{
			size_t		chunk = n - off > 16384 ? 16384 : n - off;

			frame[pos] = 0x16;
			frame[pos + 1] = 3;
			frame[pos + 2] = 1;
			put16(frame + pos + 3, (unsigned) chunk);
			memcpy(frame + pos + 5, buf + off, chunk);
			pos += 5 + chunk;
			off += chunk;
		}
		iplen = pos - 14;
		frame[14] = 0x45;
		put16(frame + 16, (unsigned) iplen);
		frame[22] = 64;			/* TTL */
		frame[23] = 6;			/* TCP */
		frame[26] = 127;
		frame[29] = 1;
		frame[30] = 127;
		frame[33] = 1;
		for (k = 14; k < 34; k += 2)
			sum += (uint32_t) ((frame[k] << 8) | frame[k + 1]);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		put16(frame + 24, (~sum) & 0xffff);
		put16(frame + 34, 40000 + (unsigned) i);	/* one stream per file */
		put16(frame + 36, 443);
		frame[41] = 1;			/* seq 1 */
		frame[45] = 1;			/* ack 1 */
		frame[46] = 0x50;		/* header length 20 */
		frame[47] = 0x18;		/* PSH, ACK */
		put16(frame + 48, 65535);
		memset(rh, 0, sizeof(rh));
		put32le(rh, 1700000000u + (uint32_t) i);
		put32le(rh + 8, (uint32_t) pos);
		put32le(rh + 12, (uint32_t) pos);
		fwrite(rh, 1, 16, f);
		fwrite(frame, 1, pos, f);
	}
	if (fclose(f) != 0)
	{
		perror(out);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	int			i;

	if (argc >= 3 && strcmp(argv[1], "--pcap") == 0)
	{
		write_pcap(argv[2], argv + 3, argc - 3);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--ja4") == 0)
	{
		for (i = 2; i < argc; i++)
		{
			PgtlsClientHello ch;
			char		ja4[PGTLS_JA4_LEN + 1];
			char		name[256];
			size_t		n = read_file(argv[i]);

			base_name(argv[i], name, sizeof(name));
			if (pgtls_parse_client_hello(buf, n, &ch))
			{
				pgtls_ja4(&ch, ja4);
				printf("%s %s\n", name, ja4);
			}
			else
				printf("%s invalid\n", name);
		}
		return 0;
	}
	for (i = 1; i < argc; i++)
		dump(argv[i]);
	return 0;
}
