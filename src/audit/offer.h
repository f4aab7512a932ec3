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

/* Naming one offered value (for the record, and for the inventory's views) */
typedef enum AuditOfferKind
{
	AUDIT_OFFER_VERSION,
	AUDIT_OFFER_CIPHER,
	AUDIT_OFFER_GROUP
} AuditOfferKind;

/* longest name written for one value, with its NUL (OpenSSL's are shorter) */
#define AUDIT_OFFER_NAME_LEN 64

extern const char *audit_offer_value_name(AuditOfferKind kind, uint16 v,
										  struct ssl_st *ssl, char *buf);
extern struct ssl_st *audit_offer_naming_ssl(void);

#endif							/* PGTLS_AUDIT_OFFER_H */
