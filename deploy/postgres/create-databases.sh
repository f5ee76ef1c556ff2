#!/usr/bin/env bash
# Creates the six FoodMesh databases (one per service) if they do not exist.
#
# In docker-compose this file is mounted into /docker-entrypoint-initdb.d/,
# so the postgres image runs it once, when its data volume is first
# initialised (as POSTGRES_USER, over the local socket). It can also be run
# by hand against any server, e.g. a managed one for Kubernetes:
#
#   PGHOST=db.example.internal PGUSER=foodmesh PGPASSWORD=... \
#     bash deploy/postgres/create-databases.sh
#
# Services also create their own database when it is missing (given the
# CREATEDB privilege) and always run their own migrations; this script only
# makes the databases exist up front, owned by the connecting user.
#
# The work runs in a subshell so that the strict shell options stay local
# even when the postgres entrypoint sources this file instead of running it.

create_foodmesh_databases() (
  set -euo pipefail
  local_user="${POSTGRES_USER:-${PGUSER:-postgres}}"
  psql_cmd=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$local_user" --dbname postgres)

  for name in ${FOODMESH_SERVICES:-order restaurant kitchen delivery accounting notification}; do
    db="foodmesh_${name}"
    exists="$("${psql_cmd[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '${db}'")"
    if [[ "$exists" == "1" ]]; then
      echo "database ${db} already exists"
    else
      "${psql_cmd[@]}" -c "CREATE DATABASE \"${db}\" OWNER \"${local_user}\""
      echo "database ${db} created"
    fi
  done
)

create_foodmesh_databases
