// Test helper: reads a streamed HTTP answer (a changes feed) as text, up to a part or its end.

/** `until(part)` reads until the text so far holds `part` (true) or the answer ends first (false). */
export function feedText(res: Response): { until(part: string): Promise<boolean>; readonly text: string } {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  return {
    get text() {
      return text;
    },
    async until(part: string) {
      while (!text.includes(part)) {
        const { value, done } = await reader.read();
        if (done) return false;
        text += decoder.decode(value, { stream: true });
      }
      return true;
    },
  };
}
