/** VAT rates in percent, by ISO country code. */
export const VAT_PERCENT: Readonly<Record<string, number>> = { DE: 19, FR: 20, IT: 22 };

/** The rate for countries not listed above. */
export const DEFAULT_VAT_PERCENT = 20;
