/**
 * Tandem's version: `source.version` of every change event, `tandem --version` and the admin API's
 * OpenAPI document. A unit test keeps it equal to package.json's.
 */
export const TANDEM_VERSION = '0.1.0';
