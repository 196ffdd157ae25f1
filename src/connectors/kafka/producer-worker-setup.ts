// The producer thread's first import: it must run before anything loads kafkajs.
import { installKafkajsPatches } from './kafkajs-patches';

installKafkajsPatches();
