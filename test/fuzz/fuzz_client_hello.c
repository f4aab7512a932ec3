/*-------------------------------------------------------------------------
 *
 * fuzz_client_hello.c
 *	  libFuzzer harness for src/audit/client_hello.c: parses the input as a
 *	  ClientHello handshake message and, when it parses, computes its JA4
 *	  and checks the invariants the server relies on.  Built and run by
 *	  test/fuzz/run.sh (clang -fsanitize=fuzzer,address,undefined).
 *
 * test/fuzz/fuzz_client_hello.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/client_hello.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PgtlsClientHello ch;
	char		ja4[PGTLS_JA4_LEN + 8];
	char		name[8];
	bool		ok;
	int			i;

	/* an exact-size copy, so that ASan sees any read past the end */
	uint8_t    *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	ok = pgtls_parse_client_hello(copy, size, &ch);
	check(ok == ch.valid);
	if (ok)
	{
		check(ch.nversions >= 0 && ch.nversions <= PGTLS_CH_MAX_VERSIONS);
		check(ch.nciphers >= 1 && ch.nciphers <= PGTLS_CH_MAX_CIPHERS);
		check(ch.nextensions >= 0 && ch.nextensions <= PGTLS_CH_MAX_EXTENSIONS);
		check(ch.ngroups >= 0 && ch.ngroups <= PGTLS_CH_MAX_GROUPS);
		check(ch.nkeyshares >= 0 && ch.nkeyshares <= PGTLS_CH_MAX_GROUPS);
		check(ch.nsigalgs >= 0 && ch.nsigalgs <= PGTLS_CH_MAX_SIGALGS);
		check(ch.nalpn >= 0 && ch.nalpn <= PGTLS_CH_MAX_ALPN);
		check(ch.truncated == (ch.dropped > 0));
		check(ch.sni_len >= 0 && ch.sni_len <= PGTLS_CH_SNI_LEN &&
			  ch.sni[ch.sni_len] == '\0');
		check(!ch.has_sni || ch.sni_extension);
		for (i = 0; i < ch.nalpn; i++)
			check(ch.alpn_len[i] <= PGTLS_CH_ALPN_LEN &&
				  ch.alpn[i][ch.alpn_len[i]] == '\0');
		for (i = 0; i < ch.nversions; i++)
			check(strlen(pgtls_tls_version_name(ch.versions[i], name)) <= 7);

		memset(ja4, 'X', sizeof(ja4));
		pgtls_ja4(&ch, ja4);
		check(strlen(ja4) == PGTLS_JA4_LEN);
		check(ja4[0] == 't' && ja4[10] == '_' && ja4[23] == '_');
		check(ja4[PGTLS_JA4_LEN + 1] == 'X');	/* nothing written past it */
		for (i = 11; i < PGTLS_JA4_LEN; i++)
			check(i == 23 || (ja4[i] >= '0' && ja4[i] <= '9') ||
				  (ja4[i] >= 'a' && ja4[i] <= 'f'));
	}
	else
	{
		/* a failed parse leaves nothing behind */
		static const PgtlsClientHello zero;

		check(memcmp(&ch, &zero, sizeof(ch)) == 0);
	}
	free(copy);
	return 0;
}
