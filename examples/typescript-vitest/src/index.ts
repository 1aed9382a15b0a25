// The package's public entry point.
export { grossCents, netCents, type Line } from './cart';
export { DEFAULT_VAT_PERCENT, VAT_PERCENT } from './rates';
