// The scanners: tool-definition poisoning and injection in returned content (design.md,
// "tool-definition scanner, output injection scanner"). Pure functions over values: no I/O, so
// the gateway runs them on every listing and result. Adding an export here is an API decision.
export {
  highestSeverity,
  type Detector,
  type DetectorContext,
  type Finding,
  type ScanReport,
  type Severity,
  type TextKind,
} from './types.js';
export { DEFINITION_SCAN_LIMIT, LONG_DESCRIPTION, OUTPUT_SCAN_LIMIT, Scanner } from './scanner.js';
