/*-------------------------------------------------------------------------
 *
 * offer.h
 *	  What the client offered in its ClientHello, into the audit record
 *	  (audit/offer.c).
 *
 * src/audit/offer.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_OFFER_H
#define PGTLS_AUDIT_OFFER_H

#include "audit/record.h"

/* an OpenSSL SSL, without including OpenSSL headers here */
struct ssl_st;

extern void audit_offer_capture(AuditRecord *rec, struct ssl_st *ssl);

#endif							/* PGTLS_AUDIT_OFFER_H */
