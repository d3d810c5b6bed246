/** A command or snippet with a Copy button (falls back to selecting the text). */
import { useRef, useState } from 'react';

type CopyState = 'idle' | 'copied' | 'selected';

function copySelection(): boolean {
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}

/**
 * A command or snippet with a Copy button. The clipboard API needs a secure context and permission; where it is
 * refused, the text is selected instead so Ctrl+C finishes the job.
 */
export function CopyBlock({ text, label, testId }: { text: string; label: string; testId?: string }) {
  const codeRef = useRef<HTMLElement>(null);
  const [state, setState] = useState<CopyState>('idle');
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const settle = (next: CopyState) => {
    setState(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setState('idle'), 2500);
  };

  const selectText = (): boolean => {
    const node = codeRef.current;
    const selection = window.getSelection();
    if (!node || !selection) return false;
    const range = document.createRange();
    range.selectNodeContents(node);
    selection.removeAllRanges();
    selection.addRange(range);
    return true;
  };

  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard API');
      await navigator.clipboard.writeText(text);
      settle('copied');
    } catch {
      // Older engines still copy a selection on request; if even that is refused, the text stays selected.
      settle(selectText() && copySelection() ? 'copied' : 'selected');
    }
  };

  return (
    <div className="copy-block" data-testid={testId}>
      <pre className="code">
        <code ref={codeRef}>{text}</code>
      </pre>
      <button type="button" className="btn btn-small copy-button" onClick={copy} aria-label={`Copy ${label}`} data-state={state}>
        {state === 'copied' ? 'Copied' : state === 'selected' ? 'Press Ctrl+C' : 'Copy'}
      </button>
    </div>
  );
}
