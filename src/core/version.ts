/** Warden's version; a unit test keeps it equal to package.json's. */
export const WARDEN_VERSION = '0.1.0';
