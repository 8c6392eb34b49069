import { createApp } from './app'
export { SenderObject } from './sender'
export { AccountObject } from './account'

const app = createApp()

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>
