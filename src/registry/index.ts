export { findTyposquats, skeleton, editDistance, type Typosquat } from './typosquat.js';
export { WELL_KNOWN_PACKAGES } from './well-known.js';
export {
  catalogSchema,
  catalogEntrySchema,
  pinOf,
  ENTRY_NAME,
  type Catalog,
  type CatalogEntry,
  type PinnedEntry,
} from './catalog-schema.js';
export {
  readCatalog,
  parseCatalogText,
  writeCatalogEntry,
  CATALOG_FILE_NAME,
  MAX_CATALOG_BYTES,
  type LoadedCatalog,
} from './catalog-file.js';
export { installPackage, verifyPackage, storeDir, packageDir, type NpmPin, type StoredPackage } from './store.js';
export {
  classifyServer,
  verifyOrigin,
  packageOfRunner,
  parseSpec,
  describeSquat,
  type ProvenanceContext,
  type ServerOrigin,
  type ServerSource,
} from './provenance.js';
export {
  addToCatalog,
  verifyCatalog,
  installCatalog,
  type AddRequest,
  type AddResult,
  type EntryCheck,
} from './add.js';
