-- What planning found out besides each row's class (portal.PlanChecks, as
-- JSON): who the plan's revokes take access from, and which object IDs its
-- grants name that the directory does not have. NULL for plans made before.
ALTER TABLE bulk_plans ADD COLUMN checks TEXT;
