-- Changes whose end was never recorded (issue 14): an instance killed or
-- paused between an intent and its outcome leaves the intent open, and the
-- portal settles each with a GET (access.Changes.SettleIntents). Finding
-- them must not read the whole log, so the open ones are kept here, by a
-- trigger in the transaction of every append, whatever writes it: an
-- intent is added, the outcome citing it removes it.
CREATE TABLE audit_open_intents (
	seq bigint PRIMARY KEY
);

-- Appends wait until the rows below include every intent, and the trigger
-- records what they append next.
LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO audit_open_intents (seq)
	SELECT seq FROM audit_log WHERE phase = 'intent'
	EXCEPT SELECT intent_seq FROM audit_log WHERE phase = 'outcome';

-- With its owner's rights, as the job counts' trigger: the app role may
-- only read and append audit_log, and a replica of the previous version
-- appends before it is granted anything new.
CREATE FUNCTION audit_open_intents_track() RETURNS trigger LANGUAGE plpgsql
	SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	IF NEW.phase = 'intent' THEN
		INSERT INTO audit_open_intents (seq) VALUES (NEW.seq);
	ELSIF NEW.phase = 'outcome' THEN
		DELETE FROM audit_open_intents WHERE seq = NEW.intent_seq;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER audit_open_intents_track AFTER INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_open_intents_track();

-- The intent a bulk job's line wrote last, recorded with it (see
-- portal.JobStep): a resumed job settles the intents its lines left open
-- before it tries any line again.
ALTER TABLE bulk_job_rows ADD COLUMN intent_seq bigint;
CREATE INDEX bulk_job_rows_by_intent ON bulk_job_rows (intent_seq) WHERE intent_seq IS NOT NULL;
