// A shopping cart's totals, with two bugs for Micro Agent to fix.
import { DEFAULT_VAT_PERCENT, VAT_PERCENT } from './rates';

export interface Line {
  name: string;
  unitCents: number;
  quantity: number;
}

/** The total before tax, in cents. */
export function netCents(lines: Line[]): number {
  return lines.reduce((sum, line) => sum + line.unitCents, 0);
}

/** The total with the country's VAT, rounded to the cent. */
export function grossCents(lines: Line[], country: string): number {
  const rate = VAT_PERCENT[country] ?? DEFAULT_VAT_PERCENT;
  return Math.round((netCents(lines) * rate) / 100);
}
