/** The cockpit page's entry: picks the transport (Electron IPC or the hub's WebSocket) and renders the app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { createTransport } from './transport';
import './styles.css';

const transport = createTransport();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App transport={transport} />
  </StrictMode>,
);
