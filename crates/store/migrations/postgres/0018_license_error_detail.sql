-- A group license in error says which plans are at odds, in the plans' display names ("Mail
-- (Plan 1) and Mail (Plan 2) cannot both be on: turn one of them off."), for the Errors &
-- issues lists. NULL when the error has no such detail (or the row is Active).
ALTER TABLE license_sources ADD COLUMN error_detail TEXT;
