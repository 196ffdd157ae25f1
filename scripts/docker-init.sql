-- Run once by the postgres image (/docker-entrypoint-initdb.d) on an empty volume,
-- connected as the superuser `tandem` (POSTGRES_USER) in docker-compose.yml.
-- Mirrors what scripts/services.sh sets up on the private local cluster.
CREATE DATABASE legacy OWNER tandem;
CREATE DATABASE target OWNER tandem;

\connect legacy
CREATE EXTENSION IF NOT EXISTS vector;

\connect target
CREATE EXTENSION IF NOT EXISTS vector;
