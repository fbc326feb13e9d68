package resource

import "strings"

// Regions are the Azure public-cloud regions privlink accepts, as
// {name, displayName}. Tracked resources must name one of them.
var Regions = [][2]string{
	{"eastus", "East US"}, {"eastus2", "East US 2"}, {"southcentralus", "South Central US"},
	{"westus2", "West US 2"}, {"westus3", "West US 3"}, {"australiaeast", "Australia East"},
	{"southeastasia", "Southeast Asia"}, {"northeurope", "North Europe"}, {"swedencentral", "Sweden Central"},
	{"uksouth", "UK South"}, {"westeurope", "West Europe"}, {"centralus", "Central US"},
	{"southafricanorth", "South Africa North"}, {"centralindia", "Central India"}, {"eastasia", "East Asia"},
	{"japaneast", "Japan East"}, {"koreacentral", "Korea Central"}, {"newzealandnorth", "New Zealand North"},
	{"canadacentral", "Canada Central"}, {"francecentral", "France Central"}, {"germanywestcentral", "Germany West Central"},
	{"italynorth", "Italy North"}, {"norwayeast", "Norway East"}, {"polandcentral", "Poland Central"},
	{"spaincentral", "Spain Central"}, {"switzerlandnorth", "Switzerland North"}, {"mexicocentral", "Mexico Central"},
	{"uaenorth", "UAE North"}, {"brazilsouth", "Brazil South"}, {"israelcentral", "Israel Central"},
	{"qatarcentral", "Qatar Central"}, {"northcentralus", "North Central US"}, {"westus", "West US"},
	{"westcentralus", "West Central US"}, {"australiasoutheast", "Australia Southeast"}, {"australiacentral", "Australia Central"},
	{"japanwest", "Japan West"}, {"koreasouth", "Korea South"}, {"southindia", "South India"},
	{"westindia", "West India"}, {"canadaeast", "Canada East"}, {"francesouth", "France South"},
	{"germanynorth", "Germany North"}, {"norwaywest", "Norway West"}, {"switzerlandwest", "Switzerland West"},
	{"ukwest", "UK West"}, {"uaecentral", "UAE Central"}, {"brazilsoutheast", "Brazil Southeast"},
	{"southafricawest", "South Africa West"},
}

// Locations are the region names, for error messages.
var Locations = func() []string {
	out := make([]string, len(Regions))
	for i, r := range Regions {
		out[i] = r[0]
	}
	return out
}()

// NormalizeLocation turns "West US 2" into "westus2", as ARM stores locations.
func NormalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(l, " ", ""))
}

// KnownLocation reports whether l (in any spelling) is a region.
func KnownLocation(l string) bool {
	n := NormalizeLocation(l)
	for _, r := range Regions {
		if r[0] == n {
			return true
		}
	}
	return n == "global"
}
