# shellcheck shell=bash
# The load runs' seed, shared by bench/run.sh and bench/replicas.sh. Sourced,
# not run. It names the resources (S, RG, CLUSTER, TARGET, MPE: the endpoint's
# URL path with its api-version) and defines
#   bench_seed PRIVLINK   with the privlink binary PRIVLINK, signed in (its
#                         profile in $PRIVLINK_PROFILE): a group, a cluster, a
#                         storage account and the endpoint mpe1 between them;
#                         sets TOKEN to the profile's access token.
# shellcheck disable=SC2034 # the variables are for the scripts that source this one

S=00000000-0000-4000-8000-000000000002
RG=/subscriptions/$S/resourceGroups/adx
CLUSTER=$RG/providers/Microsoft.Kusto/clusters/mycluster
TARGET=$RG/providers/Microsoft.Storage/storageAccounts/share
MPE="$CLUSTER/managedPrivateEndpoints/mpe1?api-version=2024-04-13"

bench_seed() {
	local privlink=$1
	"$privlink" put "$RG?api-version=2021-04-01" '{"location":"westus"}' >/dev/null
	"$privlink" put "$CLUSTER?api-version=2024-04-13" '{"location":"westus","sku":{"name":"Standard_E2a_v4","tier":"Standard"}}' >/dev/null
	"$privlink" put "$TARGET?api-version=2024-01-01" '{"location":"westus","kind":"StorageV2","sku":{"name":"Standard_LRS"}}' >/dev/null
	"$privlink" put "$MPE" "{\"properties\":{\"privateLinkResourceId\":\"$TARGET\",\"groupId\":\"blob\",\"requestMessage\":\"Please Approve.\"}}" >/dev/null
	sleep 0.5
	TOKEN=$(sed -n 's/.*"accessToken": "\(.*\)".*/\1/p' "$PRIVLINK_PROFILE")
}
