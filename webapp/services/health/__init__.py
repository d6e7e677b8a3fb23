"""Connection health (DESIGN §12): daily checks, issues, expiring secrets, e-mail.

`checks` (when each integration is checked; the scheduler's part), `probe` (one check and
the export job's check before a scheduled run), `outcomes` (what a check, test or export
means: issues, status, schedule), `issues`, `expiry`, `notify` (who is told what),
`mail` (SMTP and the unsubscribe link), `words` (the shared wording).
"""
