-- Changes whose end was never recorded (issue 14): an instance killed or
-- paused between an intent and its outcome leaves the intent open, and the
-- portal settles each with a GET (access.Changes.SettleIntents). Finding
-- them must not read the whole log, so the open ones are kept here, by
-- triggers in the transaction of every append, whatever writes it: an
-- intent is added, the outcome citing it removes it.
CREATE TABLE audit_open_intents (
	seq INTEGER PRIMARY KEY
);
INSERT INTO audit_open_intents (seq)
	SELECT seq FROM audit_log WHERE phase = 'intent'
	EXCEPT SELECT intent_seq FROM audit_log WHERE phase = 'outcome';
CREATE TRIGGER audit_open_intents_add AFTER INSERT ON audit_log WHEN NEW.phase = 'intent'
BEGIN
	INSERT INTO audit_open_intents (seq) VALUES (NEW.seq);
END;
CREATE TRIGGER audit_open_intents_settle AFTER INSERT ON audit_log WHEN NEW.phase = 'outcome'
BEGIN
	DELETE FROM audit_open_intents WHERE seq = NEW.intent_seq;
END;

-- The intent a bulk job's line wrote last, recorded with it (see
-- portal.JobStep): a resumed job settles the intents its lines left open
-- before it tries any line again.
ALTER TABLE bulk_job_rows ADD COLUMN intent_seq INTEGER;
CREATE INDEX bulk_job_rows_by_intent ON bulk_job_rows (intent_seq) WHERE intent_seq IS NOT NULL;
