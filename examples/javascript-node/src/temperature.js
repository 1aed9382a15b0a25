'use strict';
// Temperature helpers with two bugs for Micro Agent to fix.

/** Degrees Celsius in degrees Fahrenheit. */
function toFahrenheit(celsius) {
  return (celsius * 9) / 5 + 23;
}

/** The warmest of `readings`, or undefined when there are none. */
function warmest(readings) {
  let best = readings[0];
  for (let i = 1; i < readings.length - 1; i++) {
    if (readings[i] > best) best = readings[i];
  }
  return best;
}

module.exports = { toFahrenheit, warmest };
