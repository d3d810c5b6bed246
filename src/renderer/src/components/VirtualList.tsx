/** A fixed-row-height list that mounts only the rows in view. */
import { useLayoutEffect, useRef, useState, type ReactNode, type RefObject, type UIEvent } from 'react';

/**
 * A fixed-row-height list that mounts only the rows in view (plus a few either side), so a stream of hundreds of
 * rows refreshing several times a second costs a screenful of rows, not all of them.
 */
export function VirtualList<T>({
  items,
  rowHeight,
  getKey,
  renderRow,
  onScrollTopChange,
  className,
  testId,
  scrollRef,
}: {
  items: readonly T[];
  rowHeight: number;
  getKey: (item: T) => string;
  renderRow: (item: T, index: number) => ReactNode;
  onScrollTopChange?: (scrollTop: number) => void;
  className?: string;
  testId?: string;
  scrollRef?: RefObject<HTMLDivElement | null>;
}) {
  const ownRef = useRef<HTMLDivElement>(null);
  const ref = scrollRef ?? ownRef;
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const frame = useRef<number | undefined>(undefined);

  useLayoutEffect(() => {
    const node = ref.current;
    if (!node) return;
    setViewport(node.clientHeight || 600);
    const observer = new ResizeObserver(() => setViewport(node.clientHeight || 600));
    observer.observe(node);
    return () => observer.disconnect();
  }, [ref]);

  const onScroll = (event: UIEvent<HTMLDivElement>) => {
    const top = event.currentTarget.scrollTop;
    onScrollTopChange?.(top);
    if (frame.current !== undefined) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = undefined;
      setScrollTop(ref.current?.scrollTop ?? top);
    });
  };

  const overscan = 8;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  const rows: ReactNode[] = [];
  for (let index = first; index < last; index++) {
    const item = items[index]!;
    rows.push(
      <div key={getKey(item)} className="vrow" style={{ transform: `translateY(${index * rowHeight}px)`, height: rowHeight }}>
        {renderRow(item, index)}
      </div>,
    );
  }
  return (
    <div ref={ref} className={`vlist ${className ?? ''}`} onScroll={onScroll} data-testid={testId} role="list">
      <div className="vlist-inner" style={{ height: items.length * rowHeight }}>
        {rows}
      </div>
    </div>
  );
}
