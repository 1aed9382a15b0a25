/** How many words `text` holds; any run of whitespace separates two words. */
export function wordCount(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}
