import router from '@adonisjs/core/services/router'
import server from '@adonisjs/core/services/server'

server.use([])

router.use([
  // the dashboard's forms are posted as application/x-www-form-urlencoded
  () => import('@adonisjs/core/bodyparser_middleware'),
  () => import('@adonisjs/session/session_middleware'),
])
