-- First boot of the compose MySQL container (docker-entrypoint-initdb.d), run in file-name order:
--   00_databases.sql  this file: the three databases and the application user's rights on them
--   01_schema.sql     the warehouse tables, generated from the Alembic migrations (db/migrations)
--
-- The image has already created the database `riskgraph` and the user `riskgraph` from MYSQL_DATABASE,
-- MYSQL_USER and MYSQL_PASSWORD (docker-compose.yaml) before it runs these files; it runs them with
-- `riskgraph` as the default database, which is where 01_schema.sql puts the warehouse tables.
-- Passwords are not written here: an init .sql file cannot read the environment, and a password
-- committed to the repository is no password. The one application user therefore serves the
-- warehouse, Dagster's instance storage (dagster-mysql) and MLflow's backend store; each of those keeps
-- to its own database.

CREATE DATABASE IF NOT EXISTS riskgraph CHARACTER SET utf8mb4;
CREATE DATABASE IF NOT EXISTS dagster CHARACTER SET utf8mb4;
CREATE DATABASE IF NOT EXISTS mlflow CHARACTER SET utf8mb4;

GRANT ALL PRIVILEGES ON riskgraph.* TO 'riskgraph'@'%';
GRANT ALL PRIVILEGES ON dagster.* TO 'riskgraph'@'%';
GRANT ALL PRIVILEGES ON mlflow.* TO 'riskgraph'@'%';
FLUSH PRIVILEGES;
