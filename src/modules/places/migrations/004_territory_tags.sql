-- Territory filters use the tags GIN index (combined with the other filters in one index scan):
-- every place's tags gain its region, département, EPCI and commune.
UPDATE places.place
   SET tags = tags || array_remove(ARRAY['region=' || region, 'departement=' || departement, 'epci=' || epci, 'commune=' || commune_code], NULL)
 WHERE NOT (tags && array_remove(ARRAY['region=' || region, 'departement=' || departement, 'epci=' || epci, 'commune=' || commune_code], NULL));
