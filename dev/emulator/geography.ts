/**
 * Azure regions grouped into the geographies Key Vault binds backups to: a backup restores into a vault of the same
 * subscription and geography only (learn.microsoft.com "Azure Key Vault backup": "same Azure geography"). The
 * grouping follows Azure's published geographies; a location not listed is its own geography.
 */
const GEOGRAPHIES: Record<string, string[]> = {
  'united-states': [
    'eastus',
    'eastus2',
    'westus',
    'westus2',
    'westus3',
    'centralus',
    'northcentralus',
    'southcentralus',
    'westcentralus',
  ],
  europe: ['westeurope', 'northeurope'],
  'united-kingdom': ['uksouth', 'ukwest'],
  france: ['francecentral', 'francesouth'],
  germany: ['germanywestcentral', 'germanynorth'],
  switzerland: ['switzerlandnorth', 'switzerlandwest'],
  norway: ['norwayeast', 'norwaywest'],
  sweden: ['swedencentral', 'swedensouth'],
  'asia-pacific': ['eastasia', 'southeastasia'],
  australia: ['australiaeast', 'australiasoutheast', 'australiacentral', 'australiacentral2'],
  japan: ['japaneast', 'japanwest'],
  korea: ['koreacentral', 'koreasouth'],
  india: ['centralindia', 'southindia', 'westindia'],
  canada: ['canadacentral', 'canadaeast'],
  brazil: ['brazilsouth', 'brazilsoutheast'],
  'south-africa': ['southafricanorth', 'southafricawest'],
  uae: ['uaenorth', 'uaecentral'],
};

const BY_LOCATION = new Map(
  Object.entries(GEOGRAPHIES).flatMap(([geography, locations]) => locations.map((location) => [location, geography])),
);

/** The geography of an Azure location (`westeurope` → `europe`); an unknown location is a geography of its own. */
export function geographyOf(location: string): string {
  const normalized = location.toLowerCase().replace(/\s+/g, '');
  return BY_LOCATION.get(normalized) ?? normalized;
}
