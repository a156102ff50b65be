/// <reference types="vite/client" />
interface ImportMetaEnv {
  readonly VITE_PARLEY_SITE_KEY?: string;
  readonly VITE_PARLEY_RELAY_URL?: string;
}
