import { DurableObject } from 'cloudflare:workers'
export class SenderObject extends DurableObject<Env> {}
