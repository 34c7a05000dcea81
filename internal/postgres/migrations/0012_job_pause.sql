-- A pause ACS asked of a bulk job (a Retry-After), kept with the job so
-- that every instance shows it and whichever runs the job, after a restart
-- or a resume too, waits for it: when it was asked and until when (NULL: never).
ALTER TABLE bulk_jobs ADD COLUMN paused_at timestamptz, ADD COLUMN paused_until timestamptz;
