/** A message body in the cockpit: whole when the hub sent it whole, else its preview and a way to the full body. */
import { useState } from 'react';
import type { MessagePreview } from '../../../shared/contract';
import { bodyText, formatBytes } from '../format';
import { useTransport } from '../hooks';

/** A full body up to this size is shown in place when asked for; a larger one is saved as a file instead. */
const SHOW_IN_PLACE_BYTES = 2 * 1024 * 1024;

type Full = { state: 'preview' } | { state: 'loading' } | { state: 'shown'; text: string } | { state: 'error'; message: string };

/** Saves a blob under a file name, through a link the browser (or Electron) treats as a download. */
function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The body of a message in a thread: JSON pretty-printed, text as it is; a preview says so and offers the rest. */
export function MessageBody({ message }: { message: MessagePreview }) {
  const [full, setFull] = useState<Full>({ state: 'preview' });
  const shown = full.state === 'shown' ? full.text : message.truncated ? String(message.body) : bodyText(message.body);
  return (
    <>
      {message.contentType === 'json' ? <pre className="code thread-json">{shown}</pre> : <div className="thread-body">{shown}</div>}
      {message.truncated && full.state !== 'shown' && <FullBodyLink message={message} full={full} onFull={setFull} />}
    </>
  );
}

/**
 * "Show full body (N MB)" for a body the hub sent as a preview, shown in place; "Download full body (N MB)" for one
 * too large to show, saved as a file. Used by the thread panel and an agent's recent messages.
 */
export function FullBodyLink({ message, full, onFull }: { message: MessagePreview; full?: Full; onFull?: (full: Full) => void }) {
  const transport = useTransport();
  const [own, setOwn] = useState<Full>({ state: 'preview' });
  const state = full ?? own;
  const set = onFull ?? setOwn;
  const bytes = message.truncated?.bytes ?? 0;
  const inPlace = onFull !== undefined && bytes <= SHOW_IN_PLACE_BYTES;

  const fetchBody = async () => {
    set({ state: 'loading' });
    try {
      const blob = await transport.messageBody(message.id);
      if (!inPlace) {
        saveBlob(blob, `message-${message.id}.json`);
        set({ state: 'preview' });
        return;
      }
      // The download is the body's JSON: a text body is one string literal.
      set({ state: 'shown', text: bodyText(JSON.parse(await blob.text())) });
    } catch (error) {
      set({ state: 'error', message: (error as Error).message });
    }
  };

  return (
    <div className="body-preview-note muted small" data-testid="body-preview-note">
      <span>
        The first {formatBytes(new Blob([String(message.body)]).size)} of {formatBytes(bytes)}.
      </span>{' '}
      <button type="button" className="btn btn-ghost btn-small" onClick={() => void fetchBody()} disabled={state.state === 'loading'} data-testid="full-body">
        {state.state === 'loading' ? 'Fetching…' : `${inPlace ? 'Show' : 'Download'} full body (${formatBytes(bytes)})`}
      </button>
      {state.state === 'error' && <span className="body-error"> Could not fetch it: {state.message}</span>}
    </div>
  );
}
