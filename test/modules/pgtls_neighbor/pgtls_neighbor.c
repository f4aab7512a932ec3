/*-------------------------------------------------------------------------
 *
 * pgtls_neighbor.c
 *	  A test-only module that shares the server with pgtls_audit the way
 *	  other extensions do, to prove that pgtls_audit copes with them
 *	  (test/t/007_neighbors.pl).  Never installed by the extension's own
 *	  Makefile; test/run builds and installs it for the tests.
 *
 * It installs:
 *	- a ClientAuthentication_hook that logs a server-only message
 *	  (LOG_SERVER_ONLY, which is the same level as COMMERROR) for every
 *	  attempt, and raises FATAL with a long multi-byte message for users
 *	  whose name starts with "regress_neighbor_long";
 *	- an openssl_tls_init_hook that only calls the previous one, so that
 *	  pgtls_audit sees another module hooking TLS initialization.
 *
 * test/modules/pgtls_neighbor/pgtls_neighbor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "lib/stringinfo.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static ClientAuthentication_hook_type prev_client_auth_hook = NULL;
static openssl_tls_init_hook_typ prev_openssl_tls_init_hook = NULL;

static void
neighbor_client_authentication(Port *port, int status)
{
	if (prev_client_auth_hook)
		prev_client_auth_hook(port, status);

	ereport(LOG_SERVER_ONLY,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("pgtls_neighbor saw an attempt by \"%s\"",
					port->user_name ? port->user_name : "")));

	if (port->user_name &&
		strncmp(port->user_name, "regress_neighbor_long", 21) == 0)
	{
		StringInfoData msg;

		/* 23 ASCII bytes, then 600 two-byte characters (U+00E9) */
		initStringInfo(&msg);
		appendStringInfoString(&msg, "pgtls_neighbor refuses ");
		for (int i = 0; i < 600; i++)
			appendStringInfoString(&msg, "\xc3\xa9");
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg_internal("%s", msg.data)));
	}
}

static void
neighbor_openssl_tls_init(SSL_CTX *context, bool isServerStart)
{
	if (prev_openssl_tls_init_hook)
		prev_openssl_tls_init_hook(context, isServerStart);
}

void
_PG_init(void)
{
	prev_client_auth_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = neighbor_client_authentication;
	prev_openssl_tls_init_hook = openssl_tls_init_hook;
	openssl_tls_init_hook = neighbor_openssl_tls_init;
}
