/*-------------------------------------------------------------------------
 *
 * client_hello.h
 *	  A bounds-checked parser of the TLS ClientHello message and the JA4
 *	  fingerprint of what it offers.
 *
 * Pure C99 on purpose: no PostgreSQL header, no allocation, no error ever
 * raised, so that it can run inside the TLS handshake (before any PGPROC
 * exists) and be compiled outside the server for fuzzing
 * (test/fuzz/) and for its own tests (test/client_hello/).
 *
 * Storage is fixed: every list keeps at most its PGTLS_CH_MAX_* first values
 * in wire order; what does not fit is dropped and counted (truncated,
 * dropped).  GREASE values (RFC 8701) are kept in the lists; JA4 ignores
 * them.  Strings (sni, alpn) hold the client's bytes as sent, NUL-terminated,
 * with their lengths beside them: they may contain any byte, including NUL,
 * and must be escaped by whoever prints them.
 *
 * src/audit/client_hello.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CLIENT_HELLO_H
#define PGTLS_CLIENT_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PGTLS_CH_MAX_VERSIONS	16
#define PGTLS_CH_MAX_CIPHERS	128
#define PGTLS_CH_MAX_EXTENSIONS	64
#define PGTLS_CH_MAX_GROUPS		32
#define PGTLS_CH_MAX_SIGALGS	64
#define PGTLS_CH_MAX_ALPN		8
#define PGTLS_CH_ALPN_LEN		32
#define PGTLS_CH_SNI_LEN		256

/* "t13d1516h2_8daaf6152771_e5627efa2ab1": 10 + 1 + 12 + 1 + 12 */
#define PGTLS_JA4_LEN			36

typedef struct PgtlsClientHello
{
	bool		valid;			/* a well-formed ClientHello was parsed */
	bool		truncated;		/* some value did not fit: dropped (counted) */
	int			dropped;		/* number of values dropped (an over-long SNI
								 * or ALPN value cut short counts as one) */
	uint16_t	legacy_version; /* ClientHello.legacy_version */

	/* supported_versions (43), wire order, GREASE kept */
	int			nversions;
	uint16_t	versions[PGTLS_CH_MAX_VERSIONS];
	/* cipher_suites, wire order, GREASE and SCSVs kept */
	int			nciphers;
	uint16_t	ciphers[PGTLS_CH_MAX_CIPHERS];
	/* extension types, wire order, GREASE kept */
	int			nextensions;
	uint16_t	extensions[PGTLS_CH_MAX_EXTENSIONS];
	/* supported_groups (10), wire order */
	int			ngroups;
	uint16_t	groups[PGTLS_CH_MAX_GROUPS];
	/* key_share (51): the group of each share, wire order */
	int			nkeyshares;
	uint16_t	keyshares[PGTLS_CH_MAX_GROUPS];
	/* signature_algorithms (13), wire order */
	int			nsigalgs;
	uint16_t	sigalgs[PGTLS_CH_MAX_SIGALGS];
	/* application_layer_protocol_negotiation (16): protocol names */
	int			nalpn;
	char		alpn[PGTLS_CH_MAX_ALPN][PGTLS_CH_ALPN_LEN + 1];
	uint8_t		alpn_len[PGTLS_CH_MAX_ALPN];	/* bytes kept in alpn[i] */

	/*
	 * For JA4, which needs the first and last byte of the first ALPN value
	 * even when that value is longer than what alpn[0] keeps:
	 * alpn_first_len is its length on the wire (0 when there is none or it
	 * is empty), alpn_first_ends its first and last byte.
	 */
	int			alpn_first_len;
	uint8_t		alpn_first_ends[2];

	/* server_name (0): the first host_name entry, "" if none */
	char		sni[PGTLS_CH_SNI_LEN + 1];
	int			sni_len;		/* bytes kept in sni */
	bool		has_sni;		/* a host_name entry was found */
	bool		sni_extension;	/* the server_name extension is present
								 * (JA4's 'd'), even without a host_name */
} PgtlsClientHello;

/*
 * msg: one complete handshake message starting with its type byte 0x01 (as
 * OpenSSL's message callback passes it, or reassembled from records); len
 * may exceed the message (bytes after it are ignored), never fall short.
 * Returns true and sets out->valid when the message is a well-formed
 * ClientHello; false if malformed, and *out is then all zero.
 */
extern bool pgtls_parse_client_hello(const uint8_t *msg, size_t len,
									 PgtlsClientHello *out);

/* A GREASE value of RFC 8701 (0x0a0a, 0x1a1a, ... 0xfafa)? */
extern bool pgtls_tls_grease(uint16_t v);

/*
 * The JA4 fingerprint of a parsed ClientHello, as FoxIO's specification
 * (technical_details/JA4.md) defines it, always for TLS over TCP ('t'), into
 * buf (at least PGTLS_JA4_LEN + 1 bytes).  Of a truncated hello it covers
 * only the values kept, so it may differ from the client's true JA4.
 * pgtls_ja4_prepare() fetches its SHA-256 once (pgtls_ja4 calls it too).
 */
extern void pgtls_ja4_prepare(void);
extern void pgtls_ja4(const PgtlsClientHello *ch, char *buf);

/*
 * The name of a protocol version as PostgreSQL's ssl_min_protocol_version
 * spells it ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", and "SSLv3"), else
 * "0xHHHH" written into buf (at least 7 bytes).
 */
extern const char *pgtls_tls_version_name(uint16_t v, char *buf);

#endif							/* PGTLS_CLIENT_HELLO_H */
