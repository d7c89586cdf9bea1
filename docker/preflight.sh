#!/bin/sh
# Refuse to start the stack while a secret still holds the placeholder of .env.example (or is empty): a
# database or object store started with "change-me" keeps that password in its volume long after .env is fixed.
# Run by the compose service `preflight` (busybox sh); every service that stores data waits for it to succeed.
status=0
for name in MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MINIO_ROOT_USER MINIO_ROOT_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
  eval "value=\${$name:-}"
  if [ -z "$value" ] || [ "$value" = "change-me" ]; then
    echo "preflight: $name is still 'change-me' or empty: set it in .env (see .env.example)" >&2
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "preflight: secrets set"
exit "$status"
