/*-------------------------------------------------------------------------
 *
 * hooks.h
 *	  The connection hooks: one record per attempt (audit/hooks.c).
 *
 * src/audit/hooks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_HOOKS_H
#define PGTLS_AUDIT_HOOKS_H


extern void audit_hooks_install(void);

#endif							/* PGTLS_AUDIT_HOOKS_H */
